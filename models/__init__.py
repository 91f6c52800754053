"""Model-side building blocks shared by every DomainLens domain.

Nothing here imports streamlit or any domain: device choice, checkpoints, the one
training loop, the one micro-batcher, background jobs, hub loading and custom nets.
"""
