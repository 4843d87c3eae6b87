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
