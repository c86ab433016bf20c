"""In service: each node judges itself against its plan, and a failing node is taken out of work.

Admission judges a node once, before it takes jobs. Parts fail afterwards, under jobs: a GPU
falls off the bus, a row remap waits for a reset, a cable goes dark, a daemon dies. `bringup
health` runs on the node itself (Slurm's HealthCheckProgram every interval, the job epilog
after every job, or a user) or from the controller over SSH, and judges the fast subset of the
suite's checks (`checks.HEALTH_CHECKS`: same check ids, same judges, same expectations as
admission; nothing that takes more than a few seconds, nothing that writes). Its verdict
(`verdict.HealthVerdict`, JSON version 1) says whether the node must be drained and what to do
about each finding (restart a daemon, remount, check a cable, reset the GPU, reboot, replace
the GPU), with the raw outputs as evidence; the controller's watch service turns a failing
verdict into an incident and a drain, under a circuit breaker (`breaker`).

The package root imports nothing: the watch service reads verdicts without loading the judges,
and the node's check loads only what it runs.
"""
