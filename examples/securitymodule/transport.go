package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
	"github.com/edgesec/edgesec/transport/mqtt"
)

// selectTransport picks the module's transport from its environment:
//
//  1. a module identity (iothub.FromEnvironment: EdgeHubConnectionString,
//     IotHubConnectionString, then the IoT Edge module environment) →
//     the IoT Hub module client, through edgeHub on IoT Edge;
//  2. --mqtt URL or EDGESEC_MQTT_URL → a generic MQTT broker
//     (EDGESEC_MQTT_USERNAME, EDGESEC_MQTT_PASSWORD, EDGESEC_MQTT_CA,
//     EDGESEC_MQTT_CERT, EDGESEC_MQTT_KEY, EDGESEC_MQTT_TOPIC and
//     EDGESEC_MQTT_CLIENT_ID complete or override the URL's settings);
//  3. otherwise nil: the caller writes to stdout.
//
// It also returns a description of the choice for the start-up log. With a
// module twin (1), the client is also the engine's PropertyReporter and
// its twin is returned as a configuration source. The transport connects
// in the background; the engine's Close stops it.
func selectTransport(o options, version string, log *slog.Logger) (transport.Transport, []edgesec.ConfigSource, string, error) {
	id, source, err := iothub.FromEnvironment(os.Getenv)
	switch {
	case errors.Is(err, iothub.ErrNoEnvironment):
		if o.mqtt != "" {
			return selectMQTT(o.mqtt, log)
		}
		return nil, nil, "", nil
	case err != nil:
		return nil, nil, "", err
	}
	c, err := iothub.New(iothub.Options{Identity: id, ClientVersion: version, Logger: log})
	if err != nil {
		return nil, nil, "", err
	}
	target := id.GatewayHostName
	if target == "" {
		target = id.HubHostName
	}
	log.Info("transport: IoT Hub module client", "identity", source, "hub", id.HubHostName, "via", target,
		"device", id.DeviceID, "module", id.ModuleID)
	return c, []edgesec.ConfigSource{c.Twin()}, "iothub: " + source, nil
}

func selectMQTT(url string, log *slog.Logger) (transport.Transport, []edgesec.ConfigSource, string, error) {
	mo, err := mqtt.ParseURL(url)
	if err != nil {
		return nil, nil, "", err
	}
	for env, field := range map[string]*string{
		"EDGESEC_MQTT_USERNAME":  &mo.Username,
		"EDGESEC_MQTT_PASSWORD":  &mo.Password,
		"EDGESEC_MQTT_CA":        &mo.CAFile,
		"EDGESEC_MQTT_CERT":      &mo.CertFile,
		"EDGESEC_MQTT_KEY":       &mo.KeyFile,
		"EDGESEC_MQTT_TOPIC":     &mo.Topic,
		"EDGESEC_MQTT_CLIENT_ID": &mo.ClientID,
	} {
		if v := os.Getenv(env); v != "" {
			*field = v
		}
	}
	mo.Logger = log
	t, err := mqtt.New(mo)
	if err != nil {
		return nil, nil, "", err
	}
	log.Info("transport: MQTT broker", "broker", mo.URL, "client_id", mo.ClientID, "topic", mo.Topic)
	return t, nil, "mqtt", nil
}
