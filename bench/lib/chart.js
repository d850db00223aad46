// Renders the ratio of every case to its baseline as an SVG bar chart, with vega-lite compiled to
// vega and rendered headless (no browser, no canvas: vega's SVG renderer is pure JS).
import * as vega from 'vega';
import * as vl from 'vega-lite';

/**
 * @param {Array<{group: string, name: string, ratio?: number|null, baseline: string|null}>} results
 * @param {string} title
 * @returns {Promise<string>} the SVG document
 */
export async function ratioChart(results, title) {
  const values = results
    .filter((r) => r.baseline && typeof r.ratio === 'number')
    .map((r) => ({ case: `${r.group}: ${r.name}`, ratio: Number(r.ratio.toFixed(3)), vs: r.baseline }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: 'time per op (or per byte) relative to the baseline in the same run; 1 = equal, lower is better',
    },
    width: 520,
    data: { values },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'case', type: 'nominal', sort: null, title: null, axis: { labelLimit: 420 } },
          x: { field: 'ratio', type: 'quantitative', title: 'ratio to baseline', scale: { type: 'log' } },
          color: {
            condition: { test: 'datum.ratio <= 1.3', value: '#4c78a8' },
            value: '#e45756',
          },
          tooltip: [{ field: 'case' }, { field: 'ratio' }, { field: 'vs' }],
        },
      },
      {
        mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
        encoding: { x: { datum: 1 } },
      },
      {
        mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
        encoding: {
          y: { field: 'case', type: 'nominal', sort: null },
          x: { field: 'ratio', type: 'quantitative' },
          text: { field: 'ratio', type: 'quantitative', format: '.2f' },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
