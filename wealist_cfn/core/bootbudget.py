"""How long an instance's boot may take, in the figures Python code needs.

The boot scripts (wealist_cfn/boot/startup.sh) hold their own copies as
shell defaults; tests/ops/test_rollout.py checks that the two agree. No
imports: templates, the deploy and the operations commands all read it.
"""

from __future__ import annotations

# startup.sh's WEALIST_BOOT_BUDGET default: no wait of the boot starts that
# would end later than this after UserData began; a boot that gives up asks
# for its replacement at WEALIST_REPLACE_AFTER, whose default is this too.
BOOT_BUDGET_SECONDS = 360
# Launch (InService) to UserData's start: cloud-init (docs/operations.md,
# "How long a boot takes").
BEFORE_USERDATA_SECONDS = 30
# The give-up's SetInstanceHealth, retried: at most 5 attempts with pauses
# of 5, 10, 15 and 20 s (startup.sh give_up), plus the calls themselves.
MARK_SECONDS = 60
# When a boot that gave up has marked itself Unhealthy at the latest,
# counted from InService.
GIVE_UP_MARK_SECONDS = BEFORE_USERDATA_SECONDS + BOOT_BUDGET_SECONDS + MARK_SECONDS
# The warm-up an instance refresh waits on each new instance while the group
# is on EC2 health checks: past the give-up's mark, so a boot that failed is
# seen Unhealthy before the refresh counts it healthy and moves on.
EC2_CHECK_WARMUP_SECONDS = GIVE_UP_MARK_SECONDS + 60
