// What a PicketDevice announces in its hello when given no entities of its own
// (CONTRACT.md §4 entity descriptions), written out once for the tests that check it.
export const DEFAULT_HELLO_ENTITIES = [
  {
    key: 'temperature',
    platform: 'sensor',
    device_class: 'temperature',
    unit: '°C',
    state_class: 'measurement',
  },
  {
    key: 'humidity',
    platform: 'sensor',
    device_class: 'humidity',
    unit: '%',
    state_class: 'measurement',
  },
  { key: 'relay', platform: 'switch' },
];
