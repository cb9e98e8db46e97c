"""The virtual fitting room: a shopper's own photo dressed in a catalog top (a 2-D garment transfer from the
catalog model's photo, offline on a CPU). `render(person_photo, product) -> (image, report)` is its one
interface; `analyse_shopper` analyses a photo once for many products."""

from .body import TryOnError
from .render import TOPWEAR, Report, Shopper, analyse_shopper, render

__all__ = ["TOPWEAR", "Report", "Shopper", "TryOnError", "analyse_shopper", "render"]
