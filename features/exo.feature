Feature: EXO joins the cluster only in compute mode
  With EXO enabled, the workstation pools its GPUs with other machines while it is a
  compute node, and leaves the cluster when the owner wants the desktop back. EXO and vLLM
  share the compute GPUs, or each gets its own, as the policy says.

  Scenario: EXO starts on the compute GPUs and stops on the way back to desktop
    Given a simulated workstation with 2 GPUs and EXO sharing the GPUs with vLLM
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And the observed state is "compute"
    And EXO is running on GPUs 0 and 1
    And vLLM is running on GPUs 0 and 1
    When the owner requests desktop
    Then the request ends "converged" with exit code 0
    And EXO is stopped
    And the observed state is "desktop"

  Scenario: Split placement gives vLLM and EXO a GPU each
    Given a simulated workstation with 2 GPUs and EXO on its own GPU
    When the owner requests compute
    Then the request ends "converged" with exit code 0
    And vLLM is running on GPU 0 only
    And EXO is running on GPU 1 only

  Scenario: EXO that fails to start undoes the switch
    Given a simulated workstation with 2 GPUs and EXO sharing the GPUs with vLLM
    And EXO fails to start
    When the owner requests compute
    Then the request ends "rolled-back" with exit code 21
    And the observed state is "desktop"
    And EXO is stopped

  Scenario: EXO still starting cannot be drained
    Given a simulated workstation with 2 GPUs and EXO sharing the GPUs with vLLM
    And the owner has switched to compute
    And EXO is restarting
    When the owner requests desktop
    Then the request ends "blocked" with exit code 17
    And the reason mentions "exo.service is activating"

  Scenario: EXO running on the desktop is not the desktop
    Given a simulated workstation with 2 GPUs and EXO sharing the GPUs with vLLM
    When EXO is started by hand
    Then the observed state is not a mode
    And the conflicts mention "exo.service active outside compute"
