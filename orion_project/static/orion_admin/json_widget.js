// JSON fields of the admin: say at once when the text is not JSON, re-indent it when it is.
(function () {
  "use strict";
  function check(area) {
    var note = area.nextElementSibling;
    if (!note || !note.classList.contains("orion-json-error")) {
      note = document.createElement("p");
      note.className = "orion-json-error";
      area.parentNode.insertBefore(note, area.nextSibling);
    }
    try {
      JSON.parse(area.value === "" ? "null" : area.value);
      area.classList.remove("orion-json-invalid");
      note.textContent = "";
      return true;
    } catch (error) {
      area.classList.add("orion-json-invalid");
      note.textContent = "Not valid JSON: " + error.message;
      return false;
    }
  }
  function tidy(area) {
    if (area.value.trim() !== "" && check(area)) {
      area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea.orion-json").forEach(function (area) {
      area.addEventListener("input", function () { check(area); });
      area.addEventListener("blur", function () { tidy(area); });
    });
  });
})();
