// Entraide: small progressive enhancements; every page works without it.
document.documentElement.classList.add("js");
