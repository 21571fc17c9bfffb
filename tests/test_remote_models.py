"""The service's replies read at the boundary: what a reply may vary in is accepted, what would
break wanbuild later is an error that names the field."""

from __future__ import annotations

import pytest

from wanbuild.remote.errors import PermanentRemoteError
from wanbuild.remote.models import FineTuneJob, JobPage, RemoteFile, parse


def test_a_reply_is_read_into_its_fields_and_unknown_fields_are_ignored() -> None:
    job = parse(
        FineTuneJob,
        {
            "job_id": "ft-1",
            "status": "RUNNING",
            "usage": "1200",  # a number the service wrote as a string
            "output_cnt": 3.0,
            "hyper_parameters": {"n_epochs": 10},
            "training_file_ids": ["file-1"],
            "a_field_added_later": {"x": 1},
        },
    )
    assert job == FineTuneJob(
        job_id="ft-1",
        status="RUNNING",
        usage=1200,
        output_cnt=3,
        hyper_parameters={"n_epochs": 10},
        training_file_ids=["file-1"],
    )


def test_pages_hold_their_items_read_the_same_way() -> None:
    page = parse(
        JobPage,
        {
            "page_no": 1,
            "page_size": 100,
            "total": 1,
            "jobs": [{"job_id": "a", "status": "QUEUING"}],
        },
    )
    assert page.jobs == [FineTuneJob(job_id="a", status="QUEUING")]


@pytest.mark.parametrize(
    ("cls", "doc", "names"),
    [
        (RemoteFile, {"name": "train.zip"}, "no RemoteFile.file_id"),
        (FineTuneJob, {"job_id": "a", "status": None}, "FineTuneJob.status should be a string"),
        (RemoteFile, {"file_id": "f", "name": "n", "size": True}, "RemoteFile.size should be an"),
        (RemoteFile, {"file_id": "f", "name": "n", "size": "--5"}, "RemoteFile.size should be an"),
        (
            JobPage,
            {"page_no": 1, "page_size": 1, "total": 1, "jobs": [{"job_id": 7, "status": "x"}]},
            "JobPage.jobs[0].job_id should be a string, not 7",
        ),
        (FineTuneJob, ["not", "an", "object"], "FineTuneJob should be an object"),
    ],
)
def test_a_reply_wanbuild_cannot_use_is_an_error_naming_the_field(
    cls: type, doc: object, names: str
) -> None:
    with pytest.raises(PermanentRemoteError, match="unexpected reply from the service") as e:
        parse(cls, doc)
    assert names in str(e.value)
