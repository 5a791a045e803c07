/* Keeps the tab's live pump honest and running. The pump bumps `data-beat` on the connection
   badge every round. When the beat stops (dashboard process gone, socket re-established, page
   reloaded while the shared socket lived on) the badge says "stale" with the age, and the pump
   is kicked again through the `pump-kick` store; a pump that stopped because the login ended
   (its socket is closed) sends the tab to the login form via assets/session.js. */
(function () {
  const STALE_MS = 3000;
  const KICK_MS = 4000;
  let lastBeat = null;
  let lastChange = Date.now();
  let lastKick = 0;
  setInterval(function () {
    const badge = document.getElementById("conn-status");
    const api = window.dash_clientside;
    if (!badge || !api || !api.set_props) {
      return;
    }
    const beat = badge.getAttribute("data-beat");
    const now = Date.now();
    if (beat !== lastBeat) {
      lastBeat = beat;
      lastChange = now;
      return;
    }
    const quiet = now - lastChange;
    if (quiet > STALE_MS) {
      api.set_props("conn-text", { children: "Stale · " + Math.round(quiet / 1000) + " s" });
      api.set_props("conn-status", { className: "conn conn-stale" });
    }
    if (quiet > KICK_MS && now - lastKick > KICK_MS) {
      lastKick = now;
      if (window.energydashCheckLogin) {
        window.energydashCheckLogin();
      }
      api.set_props("pump-kick", { data: now });
    }
  }, 1000);
})();
