import { nsCommand } from '@skiff/core/host';
import { run } from '@skiff/core/host';

/**
 * dockerd sets the iptables FORWARD policy to DROP. nftables verdicts are per table, so our own
 * `accept` cannot override that: like Docker's documented DOCKER-USER advice, we add one iptables
 * rule that accepts the packets our forward chain marked. Only when the policy is DROP, so a host
 * without dockerd keeps an untouched iptables ruleset.
 */
export async function ensureForwardAccept(opts: { netns?: string; mark: number; comment: string }): Promise<void> {
  for (const bin of ['iptables', 'ip6tables']) {
    const policy = await iptables(opts.netns, bin, ['-w', '-S', 'FORWARD']).catch(() => undefined);
    if (policy === undefined) continue; // no iptables binary or no filter table: nothing drops
    const rule = ruleArgs(opts.mark, opts.comment);
    const present = policy.split('\n').some((l) => l.includes(`"${opts.comment}"`) || l.includes(` ${opts.comment} `));
    if (present || !/^-P FORWARD DROP/m.test(policy)) continue;
    await iptables(opts.netns, bin, ['-w', '-I', 'FORWARD', ...rule]);
  }
}

/** Removes the rule ensureForwardAccept added (if any). */
export async function removeForwardAccept(opts: { netns?: string; mark: number; comment: string }): Promise<void> {
  for (const bin of ['iptables', 'ip6tables']) {
    const rule = ruleArgs(opts.mark, opts.comment);
    // -D removes one copy per call; stop at the first failure (none left, or no iptables).
    for (let i = 0; i < 8; i++) {
      try {
        await iptables(opts.netns, bin, ['-w', '-D', 'FORWARD', ...rule]);
      } catch {
        break;
      }
    }
  }
}

function ruleArgs(mark: number, comment: string): string[] {
  const m = `0x${mark.toString(16)}`;
  return ['-m', 'mark', '--mark', `${m}/${m}`, '-m', 'comment', '--comment', comment, '-j', 'ACCEPT'];
}

function iptables(netns: string | undefined, bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = nsCommand(netns, bin, args);
  return run(cmd, argv);
}
