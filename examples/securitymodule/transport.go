package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/edgesec/edgesec"
	"github.com/edgesec/edgesec/transport"
	"github.com/edgesec/edgesec/transport/iothub"
	"github.com/edgesec/edgesec/transport/mqtt"
)

// selectTransport picks the module's transport from its environment, in
// the order of the Azure IoT SDKs' ModuleClient.fromEnvironment /
// CreateFromEnvironmentAsync (a connection string wins over the IoT Edge
// variables, so an operator can override the workload API):
//
//  1. EdgeHubConnectionString (with GatewayHostName and
//     EdgeModuleCACertificateFile for the CA of edgeHub's certificate), or
//     IotHubConnectionString → the IoT Hub client, signing with the key;
//  2. the IoT Edge module environment (IOTEDGE_WORKLOADURI, IOTEDGE_MODULEID,
//     …) → edgeHub, with SAS tokens signed by the workload API and
//     edgeHub's certificate verified with the workload trust bundle;
//  3. --mqtt URL or EDGESEC_MQTT_URL → a generic MQTT broker
//     (EDGESEC_MQTT_USERNAME, EDGESEC_MQTT_PASSWORD, EDGESEC_MQTT_CA,
//     EDGESEC_MQTT_CERT, EDGESEC_MQTT_KEY, EDGESEC_MQTT_TOPIC and
//     EDGESEC_MQTT_CLIENT_ID complete or override the URL's settings);
//  4. otherwise nil: the caller writes to stdout or --output.
//
// With a module twin (1 and 2), the client is also the engine's
// PropertyReporter and its twin is returned as a configuration source. The
// transport connects in the background; the engine's Close stops it.
func selectTransport(_ context.Context, o options, version string, log *slog.Logger) (transport.Transport, []edgesec.ConfigSource, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		id  iothub.Identity
		err error
		how string
	)
	switch {
	case os.Getenv("EdgeHubConnectionString") != "":
		id, err = iothub.IdentityFromConnectionString(os.Getenv("EdgeHubConnectionString"),
			os.Getenv("GatewayHostName"), os.Getenv("EdgeModuleCACertificateFile"))
		how = "EdgeHubConnectionString"
	case os.Getenv("IotHubConnectionString") != "":
		id, err = iothub.IdentityFromConnectionString(os.Getenv("IotHubConnectionString"),
			"", os.Getenv("EdgeModuleCACertificateFile"))
		how = "IotHubConnectionString"
	case iothub.InEdgeEnvironment(os.Getenv):
		id, err = iothub.IdentityFromEnvironment(os.Getenv)
		how = "IoT Edge workload API"
	case o.mqtt != "":
		return selectMQTT(o.mqtt, log)
	default:
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", how, err)
	}
	c, err := iothub.New(iothub.Options{Identity: id, ClientVersion: version, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	target := id.GatewayHostName
	if target == "" {
		target = id.HubHostName
	}
	log.Info("transport: IoT Hub module client", "identity", how, "hub", id.HubHostName, "via", target,
		"device", id.DeviceID, "module", id.ModuleID)
	return c, []edgesec.ConfigSource{c.Twin()}, nil
}

func selectMQTT(url string, log *slog.Logger) (transport.Transport, []edgesec.ConfigSource, error) {
	mo, err := mqtt.ParseURL(url)
	if err != nil {
		return nil, nil, err
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
		return nil, nil, err
	}
	log.Info("transport: MQTT broker", "broker", mo.URL, "client_id", mo.ClientID, "topic", mo.Topic)
	return t, nil, nil
}
