// Marks the page as able to run the Design System's JavaScript (the GOV.UK template's first
// script, kept in a file of its own: no inline scripts).
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
