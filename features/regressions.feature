Feature: Regressions found by the fault campaigns
  Each scenario pins a failure that `mode-sim campaign` found (the seed is named), so that it
  stays fixed. The same cases are `@example`s of the hypothesis test in tests/stateful/.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario: Garbled saved slice weights do not crash leaving studio-local (seed 183)
    Given the owner has switched to studio-local
    And the runtime state file "studio-saved-slices.json" is replaced with garbage
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the record notes "saved slice settings unreadable"
    And the ai slice has CPU weight 100
    And the observed state is "desktop"

  Scenario: Garbled saved slice weights do not crash entering studio-local
    Given the runtime state file "studio-saved-slices.json" is replaced with garbage
    When the owner requests studio-local
    Then the request ends "converged" with exit code 0
    And the record notes "replaced unreadable saved slice settings"
    And the observed state is "studio-local"

  Scenario: A slice setting that reports success but changes nothing is not believed (seed 204)
    Given the owner has switched to studio-local
    And setting slice properties reports success 2 times without changing anything
    When the owner requests desktop
    Then the request ends "rolled-back" with exit code 21
    And the reason mentions "not in force after the call"
    And the observed state is "studio-local"
    And the ai slice has CPU weight 10

  Scenario: A vLLM stop job that hangs is killed, bounded, before desktop comes back (seed 108)
    Given the owner has switched to compute
    And the vllm.service stop job hangs
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And the record notes "escalated: SIGKILL to every process of vllm.service, then reset-failed"
    And vLLM is stopped
    And every request so far has exactly one audit record

  Scenario: A guest logging in as vLLM finishes loading on the display GPU (seed 43522)
    Given the vllm.service stop job hangs
    And a guest logs in graphically as compute.target comes up
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the reason mentions "a graphical session appeared (graphical: session 2 of guest"
    And the record notes "escalated: SIGKILL to every process of vllm.service"
    And vLLM is stopped
    And the observed state is "desktop"

  Scenario: A graphical login during the switch keeps vLLM off the display GPU (seed 1349)
    Given someone logs in graphically just before the step "isolate compute.target"
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the reason mentions "a graphical session appeared"
    And vLLM never held memory on GPU 0
    And the observed state is "desktop"
