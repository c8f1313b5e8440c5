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

async function panel(p) {
  const frames = p.frames.map((f) => d.dataFrameFromJSON(f));
  const ctx = { interpolate: (s) => s };
  const out = p.transformations.length
    ? await firstValueFrom(d.transformDataFrame(p.transformations, frames, ctx))
    : frames;
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
        values: Array.from(f.values),
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
