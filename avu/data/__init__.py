"""Dataset loaders for the retrieval benchmarks, reading each dataset's official annotation files.

- `avu.data.coco`: MS-COCO captions and Karpathy's COCO / Flickr30k split files, the 5-captions
  per image protocol and the COCO 1K / 5K (Flickr30k 1K) image-text evaluation.
- `avu.data.lsmdc`: LSMDC's tab-separated clip files, clip ids -> movie folders and video files,
  and the 1,000-clip public test protocol.
- `avu.data.avshapes`: a procedurally rendered audio-visual benchmark with real ESC-10 sound
  (import it from its module; it is not re-exported here, so reading annotations stays light).

The loaders only read annotations and locate files; decoding is `avu.media`'s job and scoring is
`avu.metrics`' (`retrieval_metrics`, `bidirectional_retrieval`).
"""
from avu.data.coco import (
    CaptionedImage,
    ProtocolFolds,
    coco_protocol_folds,
    evaluate_image_text,
    load_coco_captions,
    load_karpathy,
    protocol_captions,
)
from avu.data.lsmdc import LSMDC_TEST_SIZE, LsmdcClip, find_clip, load_lsmdc, lsmdc_split_files

__all__ = ["CaptionedImage", "LSMDC_TEST_SIZE", "LsmdcClip", "ProtocolFolds", "coco_protocol_folds",
           "evaluate_image_text", "find_clip", "load_coco_captions", "load_karpathy", "load_lsmdc",
           "lsmdc_split_files", "protocol_captions"]
