# The body of `dubnium-vllm`, vllm.service's ExecStart (nixos/modules/workloads/vllm.nix
# wraps it with writeShellApplication, which adds `set -euo pipefail`). It picks the
# arguments of the profile the controller wrote into the EnvironmentFile, refuses to start
# without a known profile (exit 64), and execs `vllm serve`. Pure, so tests/nix/ can run it
# with a stand-in vllm and check the exact command line.
# `model` is the local directory (nixos/lib/model-path.nix); clients keep using the id
# (`servedModelName`), and nothing is downloaded (HF_HUB_OFFLINE in vllm.service).
{ vllm, model, servedModelName ? model, host, port, extraArgs, profiles, profilePath }:
let
  quote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  quoteAll = xs: builtins.concatStringsSep " " (map quote xs);
  arms = builtins.concatStringsSep "" (map
    (name: "  ${quote name}) profile_args=(${quoteAll profiles.${name}.extraArgs}) ;;\n")
    (builtins.attrNames profiles));
  known = builtins.concatStringsSep " " (builtins.attrNames profiles);
in
''
  profile="''${DUBNIUM_VLLM_PROFILE:-}"
  case "$profile" in
  ${arms}  ""|off)
      echo "dubnium-vllm: no vLLM profile in ${profilePath}; the mode controller writes it before starting vllm.service (use: sudo mode request compute)" >&2
      exit 64 ;;
    *)
      echo "dubnium-vllm: unknown profile '$profile' in ${profilePath} (known: ${known})" >&2
      exit 64 ;;
  esac
  exec ${quote vllm} serve ${quote model} --served-model-name ${quote servedModelName} \
    --host ${quote host} --port ${quote port} \
    --tensor-parallel-size "''${DUBNIUM_TENSOR_PARALLEL_SIZE:-1}" \
    ${quoteAll extraArgs} "''${profile_args[@]}"
''
