Feature: The mode command on bad input
  Every mistake gets one clear line and a stable exit code, never a traceback, and the
  audit log keeps every line it had.

  Background:
    Given a fresh simulated workstation for the mode command

  Scenario: An unknown mode
    When I run "mode request turbo"
    Then it exits with code 2
    And it prints one line mentioning "unknown mode 'turbo'"
    And no traceback is shown

  Scenario: A malformed config
    Given a config file containing '{"schema_version": 1, "hardware": {"display_gpu": "zero"}}'
    When I run "mode --config CONFIG status"
    Then it exits with code 6
    And it prints one line mentioning "hardware.display_gpu: expected an integer"

  Scenario: A truncated state file
    Given the owner has already made a request with the mode command
    And the state file "last-transition.json" is truncated
    When I run "mode last-transition"
    Then it exits with code 7
    And it prints one line mentioning "last-transition.json: truncated or not JSON"
    And the audit log still has all its lines

  Scenario: A garbage simulated world
    Given the simulated world file is replaced with garbage
    When I run "mode status"
    Then it exits with code 7
    And no traceback is shown

  Scenario: A non-root user asks the live host for a transition
    When an unprivileged user runs "mode --backend host request compute"
    Then it exits with code 3
    And it prints one line mentioning "needs root"

  Scenario: The blocked request from the shell
    Given the simulated world has an audio stream "browser-video"
    When I run "mode request compute"
    Then it exits with code 11
    And I run "mode current"
    And it prints "desktop"
