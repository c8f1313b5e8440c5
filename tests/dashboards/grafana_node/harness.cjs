// Grafana's own @grafana/data (11.6.x, package.json) on the frames our harness built:
// field display names, the panel's transformations, which override matchers match, and a
// field's display text (what ${__data.fields.X} puts in a data link).
// stdin: {"panels": [{"frames": [...], "transformations": [...], "overrides": [...],
//                     "display": [{"field": name, "unit": unit, "row": i}]}]}
// stdout: {"panels": [{"frames": [{"name", "fields": [{"name", "displayName", "values"}]}],
//                      "overrides": [true|false...], "display": ["text"...]}]}
'use strict';
globalThis.window = globalThis; // @grafana/data reads window.grafanaBootData when imported
// and navigator.language for date formats (Node 20 has no navigator; a browser in en-US).
if (typeof navigator === 'undefined') globalThis.navigator = { language: 'en-US', languages: ['en-US'] };
const d = require('@grafana/data');
const { firstValueFrom } = require('rxjs');

// The app registers each standard transformer once (seriesToColumns is joinByField's alias).
const unique = [...new Map(Object.values(d.standardTransformers).map((t) => [t.id, t])).values()];
d.standardTransformersRegistry.setInit(() =>
  unique.map((t) => ({
    id: t.id, aliasIds: t.aliasIds, name: t.name, description: t.description,
    transformation: t, editor: () => null,
  }))
);

// "Time series to table" (id timeSeriesTable) is not in @grafana/data: Grafana's app registers
// it (public/app/features/transformers/timeSeriesTable/timeSeriesTableTransformer.ts,
// timeSeriesToTableTransform; read at grafana/grafana commit 4b0b3595, not diffed against the
// v11.6 tag). Ported here without its options (we set none): per refId, one
// table frame with a string field per label key (the values in series order) and a frame-typed
// field "Trend #<refId>" holding, per number field of each time series frame, the frame
// {time, that field} with value = reduceField(lastNotNull) || null; other frames pass through.
function timeSeriesTable(data) {
  const result = [];
  const refIds = [...new Set(data.filter((f) => f.refId !== undefined).map((f) => f.refId))];
  for (const refId of refIds) {
    const labels = {};
    let trend = null;
    for (const frame of data.filter((f) => f.refId === refId)) {
      if (!d.isTimeSeriesFrame(frame)) {
        result.push(frame);
        continue;
      }
      const timeField = frame.fields.find((f) => f.type === d.FieldType.time);
      for (const field of frame.fields) {
        if (field.type !== d.FieldType.number) continue;
        const reducer = d.ReducerID.lastNotNull;
        const value = d.reduceField({ field, reducers: [reducer] })[reducer] || null;
        if (timeField !== undefined) {
          const spark = new d.MutableDataFrame();
          spark.addField(timeField);
          spark.addField(field);
          trend = trend || { name: `Trend #${refId}`, type: d.FieldType.frame, config: {}, values: [] };
          trend.values.push({ ...spark, value, length: field.values.length });
        }
        for (const [key, v] of Object.entries(field.labels || {})) {
          labels[key] = labels[key] || { name: key, type: d.FieldType.string, config: {}, values: [] };
          labels[key].values.push(v);
        }
      }
    }
    const table = new d.MutableDataFrame();
    table.refId = refId;
    for (const f of Object.values(labels)) table.addField(f);
    if (trend) table.addField(trend);
    if (table.fields.length > 0) result.push(table);
  }
  return result;
}

// A frame-typed cell (a sparkline) as JSON: what the table draws from it.
function cell(f, v) {
  if (f.type !== d.FieldType.frame) return v;
  const series = v.fields.find((x) => x.type === d.FieldType.number);
  return {
    value: v.value,
    length: v.length,
    series: d.getFieldDisplayName(series, v),
    times: Array.from(v.fields.find((x) => x.type === d.FieldType.time).values),
    values: Array.from(series.values),
  };
}

async function panel(p) {
  let frames = p.frames.map((f) => d.dataFrameFromJSON(f));
  const ctx = { interpolate: (s) => s };
  const steps = [];
  for (const t of p.transformations) {
    if (t.id !== 'timeSeriesTable') {
      steps.push(t);
      continue;
    }
    if (steps.length) frames = await firstValueFrom(d.transformDataFrame(steps.splice(0), frames, ctx));
    frames = timeSeriesTable(frames);
  }
  const out = steps.length ? await firstValueFrom(d.transformDataFrame(steps, frames, ctx)) : frames;
  const overrides = p.overrides.map((o) => {
    const match = d.getFieldMatcher(o.matcher);
    return out.some((frame) => frame.fields.some((f) => match(f, frame, out)));
  });
  const theme = d.createTheme();
  const display = (p.display || []).map((q) => {
    for (const frame of out) {
      for (const f of frame.fields) {
        if (f.name === q.field) {
          const field = { ...f, config: { ...f.config, unit: q.unit } };
          const proc = d.getDisplayProcessor({ field, theme, timeZone: 'utc' });
          return d.formattedValueToString(proc(f.values[q.row]));
        }
      }
    }
    return null;
  });
  return {
    frames: out.map((frame) => ({
      name: frame.name ?? null,
      fields: frame.fields.map((f) => ({
        name: f.name,
        type: f.type,
        displayName: d.getFieldDisplayName(f, frame, out),
        values: Array.from(f.values).map((v) => cell(f, v)),
      })),
    })),
    overrides,
    display,
  };
}

let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const req = JSON.parse(input);
  const panels = [];
  for (const p of req.panels) panels.push(await panel(p));
  process.stdout.write(JSON.stringify({ panels }));
});
