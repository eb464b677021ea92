// The official Azure IoT Node SDK as a module client, for
// TestWireMatchesNodeSDK: it connects with the connection string of
// EDGESEC_CONNECTION_STRING (trusting the CA of EDGESEC_CA_FILE), sends one
// telemetry message with the message id, content type, content encoding,
// interface id and application property of EDGESEC_MESSAGE (JSON), reports
// the properties of EDGESEC_REPORTED (JSON) when set, and disconnects.
'use strict';
const fs = require('fs');
const { ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

async function main() {
  const m = JSON.parse(process.env.EDGESEC_MESSAGE);
  const client = ModuleClient.fromConnectionString(process.env.EDGESEC_CONNECTION_STRING, Mqtt);
  await client.setOptions({ ca: fs.readFileSync(process.env.EDGESEC_CA_FILE, 'utf8') });
  await client.open();
  const msg = new Message(Buffer.from(m.body));
  msg.messageId = m.id;
  msg.contentType = m.contentType;
  msg.contentEncoding = m.contentEncoding;
  msg.interfaceId = m.interfaceId;
  for (const [k, v] of Object.entries(m.properties || {})) msg.properties.add(k, v);
  await client.sendEvent(msg);
  if (process.env.EDGESEC_REPORTED) {
    const twin = await client.getTwin();
    await new Promise((resolve, reject) =>
      twin.properties.reported.update(JSON.parse(process.env.EDGESEC_REPORTED), (err) => (err ? reject(err) : resolve())));
  }
  await client.close();
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
