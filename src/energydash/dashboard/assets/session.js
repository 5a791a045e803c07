/* Sends the tab to the login form when the dashboard says its login is gone: any answer of
   401 carrying X-EnergyDash-Login (a callback after the session expired or the backend ended
   it) leads there, coming back to the page the user was on afterwards. */
(function () {
  const original = window.fetch.bind(window);
  let leaving = false;
  window.fetch = function (...args) {
    return original(...args).then(function (response) {
      if (response.status === 401 && response.headers.get("X-EnergyDash-Login") && !leaving) {
        leaving = true;
        const here = window.location.pathname + window.location.search;
        window.location.assign("/login?expired=1&next=" + encodeURIComponent(here));
      }
      return response;
    });
  };
  window.energydashCheckLogin = function () {
    return window.fetch("/auth/session", { credentials: "same-origin", cache: "no-store" });
  };
})();
