// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/** The help of `write` and `commands`, apart from their code: the CLI prints help without loading a command. */
export const WRITE_HELP = `Usage: edge-agent write DEVICE/POINT VALUE --config FILE [--by NAME] [--json]

Asks the running agent to write VALUE (engineering units, or a mapped state such as running) to a
point with a write: block. The agent checks limits, rate and device health, writes on the
device's bus queue, reads the value back after verify.after and prints the outcome:
verified | mismatch | device-exception | timeout | refused (with its code) | interrupted.
Exit 0 only when verified; 1 otherwise.

Options:
  -c, --config FILE   configuration file (YAML or JSON) of the running agent
      --by NAME       who writes (default cli:<user>@<host>); kept in the audit
      --json          the outcome as JSON`;

export const COMMANDS_HELP = `Usage: edge-agent commands list --config FILE [--json]

The write audit the agent keeps in its buffer file: every attempt, refused ones too, newest first.

Options:
  -c, --config FILE   configuration file (YAML or JSON)
      --json          machine-readable output`;
