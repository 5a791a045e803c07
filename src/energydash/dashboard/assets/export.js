// CSV of any chart's rows, built in the browser from what the chart shows (its plotly traces).
// Time series sharing one x become one row per time with a column per trace; anything else
// (bars, heat maps) one row per point: trace, x, y[, z].
(function () {
  function cell(value) {
    if (value === null || value === undefined) return '';
    const text = String(value);
    return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function sameX(traces) {
    if (!traces.length || !traces[0].x) return false;
    const first = traces[0].x;
    return traces.every(t => t.x && t.y && t.x.length === first.length &&
      t.x.length === t.y.length && t.x[0] === first[0] && t.x[t.x.length - 1] === first[first.length - 1]);
  }
  function chartCsv(graphId) {
    const gd = document.querySelector('#' + CSS.escape(graphId) + ' .js-plotly-plot');
    if (!gd || !gd.data) return null;
    const traces = gd.data.filter(t => t.x || t.z);
    const rows = [];
    if (traces.every(t => !t.z) && sameX(traces)) {
      rows.push(['x'].concat(traces.map((t, i) => t.name || 'trace ' + i)));
      traces[0].x.forEach((x, k) => rows.push([x].concat(traces.map(t => t.y[k]))));
    } else {
      rows.push(['trace', 'x', 'y', 'z']);
      traces.forEach((t, i) => {
        const name = t.name || 'trace ' + i;
        if (t.z) {
          t.z.forEach((row, r) => (row || []).forEach((z, c) =>
            rows.push([name, (t.x || [])[c], (t.y || [])[r], z])));
        } else {
          (t.x || []).forEach((x, k) => rows.push([name, x, (t.y || [])[k], '']));
        }
      });
    }
    return rows.map(r => r.map(cell).join(',')).join('\n') + '\n';
  }
  window.energydashChartCsv = chartCsv;
  document.addEventListener('click', function (event) {
    const button = event.target.closest && event.target.closest('.csv-export');
    if (!button) return;
    const csv = chartCsv(button.dataset.graph);
    if (csv === null) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
    link.download = 'energydash-' + button.dataset.graph + '.csv';
    document.body.appendChild(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  });
})();
