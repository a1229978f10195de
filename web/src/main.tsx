// The household web app's entry (placeholder until the app lands).
import { render } from 'preact';
import { lineChart } from './chart.js';

const root = document.getElementById('app');
if (root) render(<p>Sentinel Edge</p>, root);

export { lineChart };
