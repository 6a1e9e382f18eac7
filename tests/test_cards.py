"""explorer.cards: a card's facts and metrics as the Home page shows them; the shipped checkpoints as the README
lists them, small enough to clone."""

from pathlib import Path

from explorer import cards, checkpoints


def test_classes_name_the_held_out_digits():
    assert cards.classes_text(range(9)) == "0-8 (9 held out)"
    assert cards.classes_text(range(10)) == "0-9"
    assert cards.classes_text([1, 7]) == "1, 7 (0, 2, 3, 4, 5, 6, 8, 9 held out)"
    assert cards.classes_text([]) == "none"


def test_durations_read_naturally():
    assert cards.duration_text(42.4) == "42 s"
    assert cards.duration_text(725) == "12 min"
    assert cards.duration_text(3 * 3600 + 5 * 60) == "3 h 05 min"


def test_facts_of_a_loaded_checkpoint(checkpoint_env):
    ckpt = checkpoints.load("gan")
    facts = dict(cards.facts(ckpt.card, ckpt.model))
    assert facts["kind"] == "gan"
    assert facts["latent"] == "16-D, encoded by optimised inversion"
    assert facts["trained on digits"] == "0-8 (9 held out)"
    assert facts["hardware"] == "test"
    classifier = checkpoints.load("classifier")
    assert "latent" not in dict(cards.facts(classifier.card, classifier.model))


def test_a_guided_models_facts_name_its_guide():
    card = {"kind": "cnf", "classes": list(range(9)), "train_size": 10, "epochs": 5, "steps": 50,
            "train_time_s": 700.0, "hardware": "cpu", "config": {"guidance": 1.5},
            "guide": {"config": {"channels": 16}, "epochs": 8, "train_time_s": 200.0}}
    facts = cards.facts(card)
    assert facts[-2] == ("guide", "a 16-channel field trained 8 epochs in 3 min (included above), followed with "
                                  "autoguidance weight 1.5")
    assert facts[-1][0] == "hardware"


def test_metrics_are_named_explained_and_unknown_ones_kept():
    rows = cards.metric_rows({"test_bpd_digits_0_8": 1.23456, "fd_samples": 10000, "new_metric": 0.5})
    assert rows[0] == {"metric": "bits/dim, test digits 0-8", "value": "1.235",
                       "meaning": cards.METRIC_NAMES["test_bpd_digits_0_8"][1]}
    assert rows[0]["meaning"].startswith("lower is better")
    assert rows[1]["value"] == "10000"
    assert rows[2] == {"metric": "new_metric", "value": "0.5", "meaning": ""}


def test_the_readme_lists_the_shipped_models_as_their_cards_say():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = cards.markdown_table({name: checkpoints.read_card(name) for name in checkpoints.available()})
    assert cards.with_table(readme, table) == readme, "run: python -m explorer cards --readme"


def test_the_readme_names_every_device_a_model_trained_on_once_in_order():
    hardware = cards.THEN.join(["cpu (1 thread); x86", "cpu (1 thread); EPYC", "cuda; H200", "cpu (2 threads); EPYC",
                                "cuda; H200", "cpu (1 thread); EPYC"])
    assert cards.devices_text(hardware) == "cpu (1 thread), then cuda, then cpu (2 threads)"
    card = {"epochs": 3, "train_time_s": 600, "hardware": hardware, "kind": "flow", "classes": list(range(9))}
    assert "3 epochs in 10 min, cpu (1 thread), then cuda, then cpu (2 threads) |" in cards.markdown_table({"f": card})


def test_the_shipped_checkpoints_stay_small_enough_to_clone():
    folder = Path(__file__).parent.parent / "checkpoints"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 40e6, f"checkpoints/ holds {size / 1e6:.1f} MB, over the 40 MB a clone should carry"
