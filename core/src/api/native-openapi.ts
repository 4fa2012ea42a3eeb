import { ENGINE_VERSION } from './api-version.js';

// The OpenAPI 3 document of skiff's own routes (/skiff/v1/…), served at GET /skiff/v1/openapi.json.
// The Docker routes are described by Docker's own spec; nothing here changes them.

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      json(
        ref('ErrorResponse'),
        { 400: 'bad input', 404: 'no such plugin', 409: 'conflict', 501: 'no plugin store' }[c]!,
      ),
    ]),
  );
const str = { type: 'string' };
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'package name (or a driver name that only one plugin has)',
  schema: str,
};
const specParam = (required: boolean) => ({
  name: 'spec',
  in: 'query',
  required,
  description: 'what npm accepts: name, name@version, an absolute .tgz path or directory',
  schema: str,
});
const integrityParam = {
  name: 'integrity',
  in: 'query',
  required: true,
  description: 'the sha512 integrity the user confirmed (from pull)',
  schema: str,
};

const listEntry = {
  type: 'object',
  required: ['Package', 'Kind', 'Name', 'Version', 'State', 'Reason', 'Capabilities', 'Source', 'Enabled', 'Integrity'],
  properties: {
    Package: str,
    Kind: {
      type: 'string',
      description: 'storage, network, ipam, firewall, runtime, volume, log, clusterstore ("" if unknown)',
    },
    Name: { type: 'string', description: 'the driver name' },
    Version: str,
    State: { type: 'string', enum: ['loaded', 'skipped', 'failed', 'disabled', 'pending'] },
    Reason: { type: 'string', description: 'why it was skipped or failed; empty when loaded' },
    Capabilities: { type: 'object', nullable: true, additionalProperties: true },
    Source: { type: 'string', enum: ['builtin', 'config', 'store'] },
    Enabled: { type: 'boolean' },
    Integrity: str,
  },
};

export const NATIVE_OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'skiff native API',
    version: ENGINE_VERSION,
    description: "skiffd's own routes beside the Docker Engine API: the plugin store and the plugins the daemon runs.",
  },
  paths: {
    '/skiff/v1/openapi.json': {
      get: { summary: 'This document', responses: { 200: json({ type: 'object' }, 'the OpenAPI document') } },
    },
    '/skiff/v1/plugins': {
      get: {
        summary: 'Every plugin: first-party, named in daemon.json, installed in the store',
        responses: {
          200: json(
            {
              type: 'object',
              required: ['Plugins'],
              properties: { Plugins: { type: 'array', items: ref('PluginListEntry') } },
            },
            'the plugins',
          ),
        },
      },
    },
    '/skiff/v1/plugins/pull': {
      post: {
        summary: 'Packs a spec without running any of its code and shows what it is (step 1 of an install)',
        parameters: [specParam(true)],
        responses: { 200: json(ref('PluginPreview'), 'what would be installed'), ...errors(400, 501) },
      },
    },
    '/skiff/v1/plugins/install': {
      post: {
        summary: 'Installs and enables a spec whose integrity the user confirmed (step 2)',
        parameters: [specParam(true), integrityParam],
        responses: { 200: json(ref('PluginInfo'), 'the installed plugin'), ...errors(400, 409, 501) },
      },
    },
    '/skiff/v1/plugins/{name}': {
      get: {
        summary: 'One plugin',
        parameters: [nameParam],
        responses: { 200: json(ref('PluginInfo'), 'the plugin'), ...errors(400, 404, 501) },
      },
      delete: {
        summary: 'Removes a store plugin (409 while its driver is in use)',
        parameters: [nameParam],
        responses: {
          200: json(
            { type: 'object', required: ['Package', 'Message'], properties: { Package: str, Message: str } },
            'removed',
          ),
          ...errors(404, 409, 501),
        },
      },
    },
    '/skiff/v1/plugins/{name}/enable': {
      post: {
        summary: 'Enables a store plugin (its driver is registered at once)',
        parameters: [nameParam],
        responses: { 200: json(ref('PluginInfo'), 'the plugin'), ...errors(404, 409, 501) },
      },
    },
    '/skiff/v1/plugins/{name}/disable': {
      post: {
        summary: 'Disables a store plugin (409 while its driver is in use)',
        parameters: [nameParam],
        responses: { 200: json(ref('PluginInfo'), 'the plugin'), ...errors(404, 409, 501) },
      },
    },
    '/skiff/v1/plugins/{name}/upgrade': {
      post: {
        summary: 'Installs another version (RestartRequired when the running daemon imported the old one)',
        parameters: [nameParam, specParam(false), integrityParam],
        responses: { 200: json(ref('PluginInfo'), 'the plugin'), ...errors(400, 404, 409, 501) },
      },
    },
  },
  components: {
    schemas: {
      ErrorResponse: { type: 'object', required: ['message'], properties: { message: str } },
      PluginListEntry: listEntry,
      PluginPreview: {
        type: 'object',
        required: ['Package', 'Version', 'Integrity', 'Kind', 'Name', 'HostRange', 'Spec'],
        properties: {
          Package: str,
          Version: str,
          Integrity: { type: 'string', description: 'sha512 of the packed tarball (npm integrity form)' },
          Kind: str,
          Name: str,
          HostRange: { type: 'string', description: 'its peerDependencies["@skiff/core"]' },
          Spec: str,
        },
      },
      PluginInfo: {
        allOf: [
          ref('PluginListEntry'),
          {
            type: 'object',
            required: ['Spec', 'InstalledAt', 'RestartRequired', 'Message'],
            properties: { Spec: str, InstalledAt: str, RestartRequired: { type: 'boolean' }, Message: str },
          },
        ],
      },
    },
  },
} as const;
