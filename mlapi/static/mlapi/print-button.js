// Any <button data-print> prints the page: a static file, since the Content-Security-Policy allows
// no inline event handlers (onclick="...").
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
