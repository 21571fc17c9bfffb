"""Thousands of jobs created in one minute each keep their own id, name and files.

The service's job ids are the minute and four hex digits: 65,536 a minute. At 5,000 effects
applied at once, two creates drew the same id, and the emulator stored the second job over the
first: one effect's lock then named the other effect's job, and deployed its model. Created
here on a frozen clock, 1,200 creates in one minute draw a repeated suffix with a chance of
about 1 - e^-11; each must still be a job of its own."""

from __future__ import annotations

from pathlib import Path

from tests.emulator_helpers import built_zip, in_process
from tests.test_emulator_checks import HP

N = 1200


def test_jobs_created_in_one_minute_never_replace_each_other(tmp_path: Path) -> None:
    client, _ = in_process(tmp_path / "state")  # the clock stands still: one minute
    with client:
        zips = [built_zip(tmp_path / f"ds{i}", name=f"fx{i}") for i in range(2)]
        files = [client.upload_file(z, api="native").file_id for z in zips]
        made = {}
        for i in range(N):
            job = client.create_job(
                "wan2.2-i2v-flash",
                [files[i % 2]],
                hyper_parameters=HP,
                job_name=f"wb-fx-{i}",
                model_name=f"wb-fx-{i}",
            )
            made[job.job_id] = (f"wb-fx-{i}", files[i % 2])
        assert len({job_id[3:15] for job_id in made}) == 1  # all in the same minute
        assert len(made) == N, f"{N - len(made)} create(s) returned an id already given out"
        listed = {j.job_id: j for j in client.iter_jobs()}
        assert len(listed) == N
        for job_id, (name, file_id) in made.items():
            job = client.get_job(job_id)
            assert (job.job_name, job.finetuned_output) == (name, name)
            assert tuple(job.training_file_ids) == (file_id,)
