/* Leaflet callbacks of the facilities map (referenced from Python as "energydash.map.*").
   Live output and filters arrive in the layer's `hideout`; the map itself is never rebuilt. */
window.energydash = Object.assign({}, window.energydash, {
  map: {
    pointToLayer: function (feature, latlng, context) {
      const p = feature.properties;
      const h = context.hideout || {};
      const fill = (h.fill && h.fill[p.i] != null) ? h.fill[p.i] : 0;
      const radius = Math.max(4, Math.min(20, 2 + 0.45 * Math.sqrt(Math.max(p.capacity_mw, 0))));
      const selected = h.selected === p.code;
      return L.circleMarker(latlng, {
        radius: radius,
        color: selected ? "#111827" : p.colour,
        weight: selected ? 3 : 1.5,
        fillColor: p.colour,
        fillOpacity: 0.08 + 0.87 * Math.max(0, Math.min(1, fill)),
        // committed (not yet running) and retired plant: a dashed ring, they produce nothing
        dashArray: p.status && p.status !== "operating" ? "3 3" : null,
        className: "facility-marker",
      });
    },
    clusterToLayer: function (feature, latlng, index, context) {
      const count = feature.properties.point_count;
      const size = count < 10 ? 30 : count < 50 ? 38 : 46;
      const icon = L.divIcon({
        html: "<div><span>" + count + "</span></div>",
        className: "facility-cluster",
        iconSize: L.point(size, size),
      });
      return L.marker(latlng, { icon: icon });
    },
  },
});
