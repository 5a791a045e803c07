/* Runs the dashboard's plotly.js bundle (preloaded in <head>) as soon as the Dash renderer has
   sent its first requests, instead of when the first graph mounts (after the layout, the page
   callback and the graph chunk): its evaluation then overlaps those round trips (issue 15:
   data on screen under 1.5 s). See energydash/dashboard/fastload.py.

   dcc's graph loader does `Promise.resolve(window.Plotly || <load Dash's full plotly>)`; until
   the bundle has run, window.Plotly is a thenable that settles when it has, so the graph waits
   for this one load and never starts another. The bundle ends with `window.Plotly = Plotly`,
   which replaces the thenable. Inlined by fastload.index_string, which writes the URL. */
(function () {
  if (window.Plotly) {
    return;
  }
  const url = "PLOTLY_URL";
  // Pages whose first view draws no chart: load when a chart first waits (fastload.py).
  const chartless = [];
  const lazy = chartless.indexOf(location.pathname) >= 0;
  let started = false;
  function start() {
    if (!started) {
      started = true;
      document.head.appendChild(script);
    }
  }
  const waiting = [];
  let outcome = null; // ["ok"] or ["error", reason] once the script settled
  function settle(result) {
    outcome = result;
    waiting.splice(0).forEach(function (pair) {
      if (result[0] === "ok") {
        pair[0](undefined);
      } else {
        pair[1](result[1]);
      }
    });
  }
  const pending = {
    then: function (onOk, onError) {
      start();
      return new Promise(function (resolve, reject) {
        waiting.push([resolve, reject]);
        if (outcome) {
          settle(outcome);
        }
      }).then(onOk, onError);
    },
  };
  const script = document.createElement("script");
  script.src = url;
  script.async = true;
  script.onload = function () {
    settle(window.Plotly !== pending ? ["ok"] : ["error", new Error("plotly.js did not run")]);
  };
  script.onerror = function () {
    if (window.Plotly === pending) {
      delete window.Plotly; // the next graph falls back to dcc's own loader
    }
    settle(["error", new Error("plotly.js did not load from " + url)]);
  };
  window.Plotly = pending;
  // One task later: the renderer has sent its layout requests, which the server answers
  // while plotly evaluates.
  if (!lazy) {
    setTimeout(start, 0);
  }
})();
