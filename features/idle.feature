Feature: Idle automation
  When nobody uses the workstation, it serves compute by itself; when its owner comes back,
  the desktop returns. It never switches while something says "not now": an inhibitor lock,
  audio, the studio, a pause, the schedule, or a recent return to the desktop.

  Background:
    Given a simulated workstation with idle automation after 30 minutes and a 60 minute cooldown

  Scenario: Promotion after the configured idle time
    Given the owner's session reports idle
    When 20 minutes pass with the watcher polling
    Then idle automation has requested nothing
    And idle status says "holding" blocks promotion
    When 15 minutes pass with the watcher polling
    Then idle automation requested compute once
    And the observed state is "compute"
    And every automatic request is recorded as by idle automation

  Scenario: An inhibitor lock prevents promotion and status names its holder
    Given the owner's session reports idle
    And "obs-studio" holds an idle inhibitor because "Recording"
    When 2 hours pass with the watcher polling
    Then idle automation has requested nothing
    And the observed state is "desktop"
    And idle status names "obs-studio" as what blocks "no_inhibitor"

  Scenario: Audio prevents promotion
    Given the owner's session reports idle
    And an audio stream "music-player" is playing
    When 2 hours pass with the watcher polling
    Then idle automation has requested nothing
    And idle status names "music-player" as what blocks "no_audio"

  Scenario: Never from studio-local
    Given the owner has switched to studio-local
    And the owner's session reports idle
    When 2 hours pass with the watcher polling
    Then idle automation has requested nothing
    And the observed state is "studio-local"
    And idle status says "studio_local" blocks promotion

  Scenario: Seat activity brings the desktop back, then the cooldown holds
    Given the owner's session reports idle
    When 35 minutes pass with the watcher polling
    Then the observed state is "compute"
    When someone presses a key at the seat
    And 1 minutes pass with the watcher polling
    Then idle automation requested desktop once
    And the observed state is "desktop"
    Given the owner's session reports idle
    When 40 minutes pass with the watcher polling
    Then idle automation requested compute once
    And idle status says "cooldown" blocks promotion
    When 30 minutes pass with the watcher polling
    Then idle automation requested compute 2 times

  Scenario: The owner's own compute is not undone by seat activity
    Given the owner has switched to compute
    When someone presses a key at the seat
    And 5 minutes pass with the watcher polling
    Then idle automation has requested nothing
    And the observed state is "compute"

  Scenario: A pause holds until it ends
    Given the owner's session reports idle
    And idle automation is paused for 2 hours
    When 90 minutes pass with the watcher polling
    Then idle automation has requested nothing
    And idle status says "paused" blocks promotion
    When 60 minutes pass with the watcher polling
    Then idle automation requested compute once

  Scenario: Outside the schedule nothing happens; inside it, promotion
    Given idle automation may only run between "09:00-17:00" UTC
    And the owner's session reports idle
    When 8 hours pass with the watcher polling
    Then idle automation has requested nothing
    And idle status says "conditions" blocks promotion until "09:00:00"
    When 90 minutes pass with the watcher polling
    Then idle automation requested compute once

  Scenario: A guard block is recorded once per idle period
    Given the owner's session reports idle
    And a "cargo" build has run for an hour
    When 2 hours pass with the watcher polling
    Then idle automation has requested nothing
    And the audit log has 1 idle-block record naming "user_jobs_safe"
