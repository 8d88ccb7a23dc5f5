"""scikit-learn's estimator contract, run by parametrize_with_checks, with the known exceptions."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skrec import MultiTaskRecommender

# Each entry is a design decision a reviewer can challenge.
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in_after_fitting": (
        "Only the user and item columns are read; other columns are ignored in fit and "
        "predict alike (as extra DataFrame columns are), so X may have any number of columns "
        "at predict time."
    ),
    "check_regressor_data_not_an_array": (
        "A DataFrame is read by column name (`user_col`, `item_col`); the check passes a "
        "DataFrame with integer column names 0..9, which has neither column."
    ),
}


@parametrize_with_checks(
    [MultiTaskRecommender(epochs=1, embedding_dim=4, batch_size=32, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
