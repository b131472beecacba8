// The back office needs no script to work; this only refreshes the captcha when it is clicked.
document.addEventListener("click", function (event) {
  if (event.target.classList && event.target.classList.contains("captcha")) {
    event.target.src = "/admin/captcha?t=" + Date.now();
  }
});
