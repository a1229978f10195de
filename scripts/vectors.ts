// Placeholder until the BLE decoders land: `npm run vectors`.
process.stderr.write('vectors: the BLE decoders are not built yet\n');
process.exitCode = 1;
