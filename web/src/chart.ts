// Charts on uPlot: small and fast enough for a month of readings.
import uPlot from 'uplot';

export function lineChart(target: HTMLElement, data: uPlot.AlignedData, width: number): uPlot {
  return new uPlot({ width, height: 240, series: [{}, { label: 'value' }] }, data, target);
}
