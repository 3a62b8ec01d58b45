// Destructive forms ask first: a form with data-confirm is sent only when
// the user confirms its question.
"use strict";

document.addEventListener("submit", (ev) => {
  const question = ev.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    ev.preventDefault();
  }
});
