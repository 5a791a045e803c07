// Outlets by keyboard: with the heat map focused, arrow keys move the chosen outlet (bank rows,
// positions columns) and open its details, as a click on the cell would; the choice is read
// out through a live region. Home/End go to the first/last position of the bank.
(function () {
  const MOVES = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
  document.addEventListener('keydown', function (event) {
    const host = event.target.closest && event.target.closest('#pdu-heatmap-keys');
    if (!host || !(event.key in MOVES || event.key === 'Home' || event.key === 'End')) return;
    const gd = host.querySelector('.js-plotly-plot');
    if (!gd || !gd.data || !gd.data[0].z) return;
    const z = gd.data[0].z, rows = z.length, cols = (z[0] || []).length;
    if (!rows || !cols) return;
    event.preventDefault();
    let [r, c] = host._cell || [-1, -1];
    if (r < 0) { r = 0; c = 0; }
    else if (event.key === 'Home') { c = 0; }
    else if (event.key === 'End') { c = cols - 1; }
    else {
      const [dr, dc] = MOVES[event.key];
      r = Math.min(rows - 1, Math.max(0, r + dr));
      c = Math.min(cols - 1, Math.max(0, c + dc));
    }
    host._cell = [r, c];
    window.dash_clientside.set_props('pdu-heatmap', {clickData: {points: [{x: c + 1, y: r}]}});
    const info = ((gd.data[0].customdata || [])[r] || [])[c] || [];
    const say = document.getElementById('pdu-heatmap-announce');
    if (say) { say.textContent = info.length ? `${info[1]} (${info[0]}): ${info[2]}, ${info[3]} W` : ''; }
  });
})();
