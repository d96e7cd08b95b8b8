// The layout's rules, checked by `npm run lint` (lint:cycles). Import circles are refused
// everywhere outside test/: two files that import each other own one thing between them, and it
// belongs in one of them. Type-only imports count (tsPreCompilationDeps), which
// eslint-plugin-import-x's no-cycle cannot be told to do (it skips `import type` by design).
// The room rules keep the path of a reading one-way: agent/agent.ts (the composition root) and
// agent/cli.ts may import any room; no room imports them; the libraries below agent/ never
// import agent/.
const room = (name) => `^agent/${name}/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports: move the shared piece to the room that owns it.',
      from: { pathNot: '^test/' },
      to: { circular: true },
    },
    {
      name: 'rooms-below-the-root',
      severity: 'error',
      comment: 'Only the CLI imports the composition root; rooms take what they need as an interface.',
      from: { path: '^agent/', pathNot: '^agent/cli\\.ts$' },
      to: { path: '^agent/(agent|cli)\\.ts$' },
    },
    {
      name: 'libraries-below-agent',
      severity: 'error',
      comment: 'config, buffer, drivers, sinks and broker are the libraries the agent is built from; they never reach up into agent/.',
      from: { path: '^(config|buffer|drivers|sinks|broker)/' },
      to: { path: '^agent/' },
    },
    {
      name: 'pipeline-is-the-first-stage',
      severity: 'error',
      comment: 'agent/pipeline reads and transforms; it may import config, drivers, buffer, broker and agent/{clock,logger}, not the later rooms.',
      from: { path: room('pipeline') },
      to: { path: '^agent/(delivery|alerts|ops|central|commands)/' },
    },
    {
      name: 'delivery-after-pipeline',
      severity: 'error',
      comment: 'agent/delivery forwards from the buffer to the sinks; it may import pipeline (the clock guard), not alerts, ops, central or commands.',
      from: { path: room('delivery') },
      to: { path: '^agent/(alerts|ops|central|commands)/' },
    },
    {
      name: 'alerts-after-pipeline',
      severity: 'error',
      comment: 'agent/alerts judges readings; it may import pipeline, not delivery, ops, central or commands.',
      from: { path: room('alerts') },
      to: { path: '^agent/(delivery|ops|central|commands)/' },
    },
    {
      name: 'commands-stand-alone',
      severity: 'error',
      comment: 'agent/commands are operator commands run outside the agent; they use the libraries, not the running agent\'s rooms.',
      from: { path: room('commands') },
      to: { path: '^agent/(pipeline|delivery|alerts|ops|central)/' },
    },
    {
      name: 'writes-below-the-ways-in',
      severity: 'error',
      comment: 'agent/writes executes writes (guard, device queue, read-back, audit); the CLI queue and agent/central call it, it never imports them, ops or delivery.',
      from: { path: room('writes') },
      to: { path: '^agent/(delivery|alerts|ops|central|commands)/' },
    },
    {
      name: 'ops-and-central-read-not-run-commands',
      severity: 'error',
      comment: 'agent/ops and agent/central read the running agent; the operator commands are the CLI\'s.',
      from: { path: '^agent/(ops|central)/' },
      to: { path: room('commands') },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test|coverage|\\.bench-build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
