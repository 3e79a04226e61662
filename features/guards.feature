Feature: Guards refuse unsafe switches
  Before anything changes, each guard checks one thing. A guard that says no stops the
  switch, the machine stays as it was, and the reason is recorded with the guard's own
  exit code.

  Background:
    Given a simulated workstation with 2 GPUs, booted to desktop

  Scenario Outline: A busy workstation is not switched to compute
    Given <situation>
    When the owner requests compute
    Then the request ends "blocked" with exit code <code>
    And the blocking guard is "<guard>"
    And the reason mentions "<reason>"
    And the observed state is "desktop"
    And a graphical session is still there
    And the audit log records the block

    Examples:
      | situation                                   | code | guard                        | reason             |
      | an audio stream "browser-video" is playing  | 11   | audio_idle                   | browser-video      |
      | a JACK client "ardour" is connected         | 11   | audio_idle                   | ardour             |
      | REAPER is open                              | 11   | audio_idle                   | REAPER             |
      | a second user "guest" is logged in          | 12   | graphical_session_terminable | guest              |
      | the CPU load is 40 on 16 cores              | 14   | cpu_load_safe                | per core above     |
      | a "cargo" build has run for an hour         | 15   | user_jobs_safe               | cargo              |
      | only 1000 MiB of memory is available        | 16   | memory_headroom              | 1000 MiB available |
      | the model store is missing                  | 19   | persistence_paths_ready      | does not exist     |
      | the configured model is not seeded          | 30   | model_present                | model-seeding.md   |

  Scenario: Studio placed on another machine refuses studio-local
    Given the studio capability is placed "remote"
    When the owner requests studio-local
    Then the request ends "blocked" with exit code 18
    And the blocking guard is "capability_local"
    And the observed state is "desktop"

  Scenario: A mode whose units are not installed is unreachable
    Given the configured compute target "compute-x.target" is not installed
    When the owner requests compute
    Then the request ends "blocked" with exit code 10
    And the blocking guard is "target_reachable"

  Scenario: vLLM that is still starting cannot be drained
    Given the owner has switched to compute
    And vLLM is restarting
    When the owner requests desktop
    Then the request ends "blocked" with exit code 17
    And the blocking guard is "vllm_drainable"

  Scenario: A guard that cannot see its evidence blocks too
    Given the audio graph cannot be read because "pw-dump: Host is down"
    When the owner requests compute
    Then the request ends "blocked" with exit code 20
    And the reason mentions "Host is down"

  Scenario: A soft guard warns but does not block
    Given the policy makes "cpu_load_safe" a soft guard
    And the CPU load is 40 on 16 cores
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the record warns about "cpu_load_safe"

  Scenario: Leaving studio-local for compute is refused before leaving studio
    Given the owner has switched to studio-local
    And an audio stream "reaper-take" is playing
    When the owner requests compute
    Then the request ends "blocked" with exit code 11
    And the observed state is "studio-local"
