"""The dataset an effect should be: preflight (lint with probed media), the builder (fitted
media, deterministic zips, manifest) and the desired state derived from them. Only plan and
apply need it; what exists remotely (reconcile) never imports it."""
