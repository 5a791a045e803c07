'use strict';
// plotly.js core (scatter and every layout component) plus the trace types the dashboard
// draws; keep in step with energydash.dashboard.fastload.PLOTLY_TRACES.
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/heatmap'), require('plotly.js/lib/sankey')]);

window.Plotly = Plotly;
module.exports = Plotly;
