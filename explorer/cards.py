"""A checkpoint card as people read it: facts in words, metrics with names and what they mean."""

from __future__ import annotations

from .data import HELD_OUT_DIGIT
from .models.base import GenerativeModel

# Known metric keys: a readable name and how to read the number; unknown keys are shown as they are.
METRIC_NAMES = {
    "test_bpd_digits_0_8": ("bits/dim, test digits 0-8",
                            "lower is better; a bound on the likelihood of the digits' 256 pixel levels with one uniform "
                            "draw inside each level (dequantization), exact through the flow (the continuous flow's "
                            "up to its solver)"),
    f"test_bpd_digit_{HELD_OUT_DIGIT}": (f"bits/dim, test {HELD_OUT_DIGIT}s (never seen)",
                                         "compare with 0-8. Often lower: 9s are simple, smooth strokes, and "
                                         "likelihood measures how predictable pixels are, not which digits the "
                                         "flow learned (Nalisnick et al. 2019)"),
    "test_bpd_learned_digits_0_8": ("bits/dim, test digits 0-8, learned dequantization",
                                    "a tighter bound on the same likelihood: the importance-weighted bound over draws "
                                    "of the flow's learned dequantizer; lower is better"),
    f"test_bpd_learned_digit_{HELD_OUT_DIGIT}": (f"bits/dim, test {HELD_OUT_DIGIT}s, learned dequantization",
                                                 "the same bound on the never-seen digit"),
    "dequantizer_draws": ("draws per image", "of the learned dequantizer, for its importance-weighted bound"),
    "test_matching_loss_digits_0_8": ("flow-matching loss, test digits 0-8",
                                      "the training loss on held-out digits (seeded codes and times); lower is better"),
    "bpd_images": ("images per bits/dim", "the first test images of each set whose likelihood was integrated"),
    "test_neg_elbo_nats_digits_0_8": ("-ELBO, test digits 0-8 (nats)",
                                      "an upper bound on the negative log-likelihood; lower is better"),
    "test_iwae_nll_nats_digits_0_8": ("IWAE NLL, test digits 0-8 (nats)", "a tighter bound than the ELBO; lower is better"),
    "iwae_samples": ("importance samples per image", "for the IWAE bound"),
    "classifier_fd": ("classifier Fréchet distance of samples", "FID's recipe with the MNIST classifier; lower is better"),
    "classifier_fd_floor": ("Fréchet distance floor",
                            "the same distance between two sets of real digits: the best reachable"),
    f"share_called_{HELD_OUT_DIGIT}": (f"share of samples read as {HELD_OUT_DIGIT}",
                                       f"the models never saw a {HELD_OUT_DIGIT}: how often their samples look like one"),
    "share_confident_0_8": ("share of samples read confidently as 0-8", "the classifier is sure of the digit; higher is better"),
    "largest_share_gap_0_8": ("largest gap of a digit's share from 1/9",
                              "a digit dropped or over-drawn among 0-8; lower is better"),
    "fd_samples": ("samples measured", "for the Fréchet distance and the shares"),
    "test_accuracy": ("test accuracy, all ten digits", "the classifier that judges the samples"),
    "first_guess_mse_digits_0_8": ("first-guess encoder pixel MSE, test 0-8", "before optimising z; lower is better"),
    "invert_mse_digits_0_8": ("inversion pixel MSE, test 0-8",
                              "after optimising z until the generator redraws the digit; lower is better"),
    f"invert_mse_digit_{HELD_OUT_DIGIT}": (f"inversion pixel MSE, test {HELD_OUT_DIGIT}s (never seen)",
                                           "compare with 0-8: how well the generator can draw a digit it never saw"),
}


def classes_text(classes) -> str:
    """'0-8 (9 held out)' for the product's protocol, else the list."""
    classes = sorted(int(c) for c in classes)
    if not classes:
        return "none"
    contiguous = len(classes) > 2 and classes == list(range(classes[0], classes[-1] + 1))
    text = f"{classes[0]}-{classes[-1]}" if contiguous else ", ".join(map(str, classes))
    missing = [d for d in range(10) if d not in classes]
    return text + (f" ({', '.join(map(str, missing))} held out)" if missing else "")


def duration_text(seconds: float) -> str:
    """A training time as '42 s', '12 min' or '3 h 05 min'."""
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def facts(card: dict, model=None) -> list[tuple[str, str]]:
    """The card's main facts as (label, text) rows; ``model`` adds its latent size and how it encodes."""
    rows = [("kind", str(card["kind"]))]
    if isinstance(model, GenerativeModel):
        rows.append(("latent", f"{model.latent_dim}-D, encoded by {model.inversion} inversion"))
    rows += [
        ("trained on digits", classes_text(card["classes"])),
        ("training images", f"{int(card['train_size']):,}"),
        ("training", f"{card['epochs']} epochs, {int(card['steps']):,} steps in {duration_text(card['train_time_s'])}"),
        ("hardware", str(card["hardware"])),
    ]
    if card.get("guide"):
        guide = card["guide"]
        rows.insert(-1, ("guide", f"a {guide['config']['channels']}-channel field trained {guide['epochs']} epochs in "
                                  f"{duration_text(guide['train_time_s'])} (included above), followed with "
                                  f"autoguidance weight {card['config']['guidance']:g}"))
    return rows


def metric_rows(metrics: dict) -> list[dict[str, str]]:
    """Metrics as table rows {metric, value, meaning}, known ones named and explained."""
    rows = []
    for key, value in metrics.items():
        name, meaning = METRIC_NAMES.get(key, (key, ""))
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        rows.append({"metric": name, "value": text, "meaning": meaning})
    return rows


THEN = " · then "  # between the machines of successive runs, in a card's hardware

# The headline numbers of each kind's card, in the README's table of models.
HEADLINES = ("test_bpd_digits_0_8", f"test_bpd_digit_{HELD_OUT_DIGIT}", "test_bpd_learned_digits_0_8",
             "test_iwae_nll_nats_digits_0_8",
             "classifier_fd", "share_confident_0_8", "invert_mse_digits_0_8", "test_accuracy")
README_START, README_END = "<!-- models table: python -m explorer cards --readme -->", "<!-- end of models table -->"


def markdown_table(cards: dict[str, dict]) -> str:
    """The models as a Markdown table, one row per card: what it is, how it was trained, its headline numbers."""
    lines = ["| name | kind | trained on | training | measured on held-out data |", "|---|---|---|---|---|"]
    for name, card in cards.items():
        numbers = "; ".join(f"{METRIC_NAMES[key][0]}: {_number(key, card['metrics'][key])}"
                            for key in HEADLINES if key in card.get("metrics", {}))
        training = f"{card['epochs']} epochs in {duration_text(card['train_time_s'])}, {devices_text(card['hardware'])}"
        lines.append(f"| `{name}` | {card['kind']} | digits {classes_text(card['classes'])} | {training} | {numbers} |")
    return "\n".join(lines)


def devices_text(hardware: str) -> str:
    """The devices a card's ``hardware`` names, each once, in the order its runs first used them:
    "cpu (1 thread), then cuda"."""
    devices = [run.split(";")[0] for run in hardware.split(THEN)]
    return ", then ".join(dict.fromkeys(devices))


def _number(key: str, value: float) -> str:
    return f"{value:.1%}" if key.startswith("share_") or key == "test_accuracy" else f"{value:.4g}"


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between its models-table markers replaced by ``table``."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + "\n" + table + "\n" + readme[end:]
