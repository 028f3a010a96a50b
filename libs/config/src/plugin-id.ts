// The one rule for a plugin id, for the config schema, the plugin manifest and the CLI alike. It
// needs nothing else of libs/config, so the plugin SDK imports it alone (`@aegle/config/plugin-id`).

/** The kinds of plugin. */
export const PLUGIN_KINDS = ['diagnosis', 'treatment', 'prognosis'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** `<kind>-<name>` in kebab-case, e.g. prognosis-ascvd-pce. */
export const PLUGIN_ID = new RegExp(`^(${PLUGIN_KINDS.join('|')})-[a-z0-9]+(-[a-z0-9]+)*$`);

/** What a plugin id must be, in a user's words. */
export const PLUGIN_ID_RULE = `<kind>-<name> in kebab-case, with kind one of ${PLUGIN_KINDS.join(', ')} (e.g. prognosis-ascvd-pce)`;

export function isPluginId(id: string): boolean {
  return PLUGIN_ID.test(id);
}
