# Where the model of dubnium.vllm.model lives on disk: an absolute path is itself; a Hugging
# Face id (Org/Name) is the directory of that name in the model store, as the seeding runbook
# copies it (docs/runbooks/model-seeding.md). The same rule as dubnium/policy.py
# Policy.vllm_model_path (a test keeps them equal). Pure.
store: model:
if model == null then null
else if builtins.substring 0 1 model == "/" then model
else "${store}/${model}"
