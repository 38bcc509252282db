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

// Times are written in UTC ("2026-11-20 03:10 UTC"); show the reader's own
// time zone under them when it differs. Text the users wrote (".pre") is
// left alone.
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
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: zone
  });
  var root = document.querySelector("main") || document.body;
  var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: function (node) {
      var parent = node.parentElement;
      if (!parent || parent.closest(".pre, textarea, input, code, .local-time")) {
        return NodeFilter.FILTER_REJECT;
      }
      pattern.lastIndex = 0;
      return pattern.test(node.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
    }
  });
  var nodes = [];
  while (walker.nextNode()) {
    nodes.push(walker.currentNode);
  }
  nodes.forEach(function (node) {
    var text = node.nodeValue;
    var fragment = document.createDocumentFragment();
    var last = 0;
    pattern.lastIndex = 0;
    var m;
    while ((m = pattern.exec(text)) !== null) {
      var end = m.index + m[0].length;
      fragment.appendChild(document.createTextNode(text.slice(last, end)));
      var date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)));
      var span = document.createElement("span");
      span.className = "local-time";
      span.textContent = format.format(date) + " " + zone;
      fragment.appendChild(span);
      last = end;
    }
    fragment.appendChild(document.createTextNode(text.slice(last)));
    node.parentNode.replaceChild(fragment, node);
  });
});

// Actions that cannot be undone ask first (forms marked data-confirm).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm")) {
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }
});
