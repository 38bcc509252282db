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

// Times are written in UTC ("2026-11-20 03:10 UTC"); add the reader's own
// time zone beside them when it differs, e.g. "(04:10 Europe/Paris)".
document.addEventListener("DOMContentLoaded", function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === "UTC" || zone === "Etc/UTC") {
    return;
  }
  var pattern = /(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))? UTC/g;
  var format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", timeZone: zone
  });
  var walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  var nodes = [];
  while (walker.nextNode()) {
    if (pattern.test(walker.currentNode.nodeValue)) {
      nodes.push(walker.currentNode);
    }
    pattern.lastIndex = 0;
  }
  nodes.forEach(function (node) {
    node.nodeValue = node.nodeValue.replace(pattern, function (all, y, mo, d, h, mi, s) {
      var date = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +(s || 0)));
      return all + " (" + format.format(date) + " " + zone + ")";
    });
  });
});
