// Shared by the NVS and provisioning tests: one device's provisioning data, as
// `buildProvisioningNvs` takes it and as the esp-idf-nvs-partition-gen CSV with the keys
// firmware/README.md documents. The NVS test holds the generator's bytes for the CSV.

import type { Provisioning } from '../src/index.js';

export const PROVISIONING_DATA: Provisioning = {
  gatewayUrls: ['mqtt://10.0.0.2:1883', 'ws://10.0.0.3:8080/picket'],
  deviceId: 'kitchen',
  token: 'tok_3f9a',
};

export const PROVISIONING_CSV = `key,type,encoding,value
picket,namespace,,
prov_ver,data,u8,1
device_id,data,string,kitchen
token,data,string,tok_3f9a
gw_count,data,u8,2
gw_url0,data,string,mqtt://10.0.0.2:1883
gw_url1,data,string,ws://10.0.0.3:8080/picket
`;
