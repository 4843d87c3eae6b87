/* pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3 each bind their sidebar behaviour to the
   first ".primary-toggle" / ".secondary-toggle" on the page, which is a navbar copy that is not
   displayed, so the visible buttons do nothing (pydata/pydata-sphinx-theme#2451). Forward a
   click on any other copy to the bound one, which opens the chapter list on a phone and
   collapses the sidebar on a wide screen. */
document.addEventListener("DOMContentLoaded", function () {
  ["primary", "secondary"].forEach(function (side) {
    var buttons = document.querySelectorAll("." + side + "-toggle");
    for (var i = 1; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        event.preventDefault();
        event.stopImmediatePropagation();
        buttons[0].click();
      }, true);
    }
  });
});

/* An inline formula wider than the text column (on a phone) would run off the page, where no
   one can scroll to it. Once MathJax has typeset the page, and after each resize, such formulas
   become boxes of their own that scroll sideways, with the same edge shadow as wide equations. */
(function () {
  function mark() {
    var column = document.querySelector(".bd-article");
    if (!column) return;
    var right = column.getBoundingClientRect().right;
    document.querySelectorAll('.bd-article mjx-container:not([display="true"])').forEach(function (m) {
      var wide = m.classList.contains("companion-wide");
      if (wide) m.classList.remove("companion-wide");
      var box = m.getBoundingClientRect();
      if (box.width > 0 && box.right > right + 1) m.classList.add("companion-wide");
      else if (wide) m.classList.remove("companion-wide");
    });
  }
  window.addEventListener("load", function () {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(mark);
  });
  var timer;
  function later() { clearTimeout(timer); timer = setTimeout(mark, 150); }
  window.addEventListener("resize", later);
  /* A folded solution or code cell measures nothing until it opens. */
  document.addEventListener("toggle", later, true);
  document.addEventListener("DOMContentLoaded", function () {
    var article = document.querySelector(".bd-article");
    if (!article) return;
    new MutationObserver(function (records) {
      /* a solution unfolding changes its admonition's class; ignore the marks set here */
      if (records.some(function (r) { return r.target.tagName !== "MJX-CONTAINER"; })) later();
    }).observe(article, {attributes: true, attributeFilter: ["class"], subtree: true});
  });
})();

/* MathJax's accessibility explorer (maths menu > Accessibility) reads its speech rules from
   _static/mathjax/sre/mathmaps, which the build ships: served over http it works offline. A page
   opened from the disk (file://) may not read them (browsers refuse XMLHttpRequest there), so
   there the items that need them are switched off instead of failing with a console error. */
window.addEventListener("load", function () {
  if (location.protocol !== "file:" || !(window.MathJax && MathJax.startup && MathJax.startup.promise)) return;
  MathJax.startup.promise.then(function () {
    var menu = MathJax.startup.document.menu && MathJax.startup.document.menu.menu;
    if (!menu) return;
    ["Activate", "Speech", "Highlight", "Magnification", "Semantic Info", "Collapsible", "AutoCollapse"]
      .forEach(function (id) {
        off(menu.findID("Accessibility", id));
      });
    off(menu.findID("Language"));
  });
  /* MathJax enables the explorer's items again once its own checks run; keep them off. */
  function off(item) {
    if (!item || !item.disable) return;
    item.disable();
    item.enable = function () {};
  }
});
