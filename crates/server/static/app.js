// Entraide: small progressive enhancements. Everything works without it.
document.documentElement.classList.add("js");
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});
