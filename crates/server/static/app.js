// Entraide: small progressive enhancements; every page works without it.
document.documentElement.classList.add("js");
// A form shown again with errors: bring the first invalid field into view
// and give it focus, so keyboard and screen-reader users land on it.
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("main [aria-invalid='true']");
  if (first && typeof first.focus === "function") {
    first.focus();
    if (typeof first.scrollIntoView === "function") {
      first.scrollIntoView({ block: "center" });
    }
  }
});
